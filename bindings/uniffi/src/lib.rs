//! The uniffi binding of userpool (under construction).
