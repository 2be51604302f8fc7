//! The python binding of userpool (under construction).
