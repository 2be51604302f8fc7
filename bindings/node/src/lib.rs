//! The node binding of userpool (under construction).
