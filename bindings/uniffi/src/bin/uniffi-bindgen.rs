//! `uniffi-bindgen`: generates the Kotlin and Swift sources from the built cdylib (library
//! mode), e.g. `uniffi-bindgen generate target/release/libuserpool_uniffi.so --language kotlin`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
