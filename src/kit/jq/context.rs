//! What a running jq program may ask about its input: the file and line
//! the current value came from (`input_filename`, `input_line_number`) and
//! the next input values (`input`, `inputs`).
//!
//! Per thread: each worker runs one program at a time, and whoever runs it
//! (the `sluice filter` worker, its sequential runner) sets these first.
//! Unset, the filename is `null`, the line 0, and there are no more inputs.

use std::cell::{Cell, RefCell};

use jaq_json::Val;

/// Where the next input values come from.
pub type InputSource = Box<dyn FnMut() -> Option<Result<Val, String>>>;

thread_local! {
    static FILENAME: RefCell<Val> = const { RefCell::new(Val::Null) };
    static LINE: Cell<u64> = const { Cell::new(0) };
    static INPUTS: RefCell<Option<InputSource>> = const { RefCell::new(None) };
}

/// The current value came from line `line` of `filename` (`null`: stdin).
pub fn set_position(filename: &Val, line: u64) {
    FILENAME.with(|f| {
        let mut f = f.borrow_mut();
        if *f != *filename {
            *f = filename.clone();
        }
    });
    LINE.with(|l| l.set(line));
}

/// Installs (or, with `None`, removes) the source of `input` and `inputs`.
pub fn set_inputs(source: Option<InputSource>) {
    INPUTS.with(|i| *i.borrow_mut() = source);
}

/// The next input value, if any.
pub fn next_input() -> Option<Result<Val, String>> {
    // Taken out while it runs: reading an input may set the position.
    let mut source = INPUTS.with(|i| i.borrow_mut().take())?;
    let next = source();
    INPUTS.with(|i| *i.borrow_mut() = Some(source));
    next
}

/// `input_filename`.
pub fn filename() -> Val {
    FILENAME.with(|f| f.borrow().clone())
}

/// `input_line_number`.
pub fn line() -> u64 {
    LINE.with(|l| l.get())
}
