//! JSON request bodies through the server's own extractor: any bytes give either a value or a
//! typed 400-class error (invalid_json / validation_error / payload_too_large), never a panic.
#![no_main]

use blogd::error::ApiError;
use blogd::http::json::parse;
use libfuzzer_sys::fuzz_target;

fn check<T: serde::de::DeserializeOwned>(bytes: &[u8]) {
    match parse::<T>(bytes) {
        Ok(_) => {}
        Err(ApiError::InvalidJson(_) | ApiError::Validation(_) | ApiError::PayloadTooLarge) => {}
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => check::<blogd::content::posts::CreatePost>(body),
        1 => check::<blogd::content::posts::UpdatePost>(body),
        2 => check::<blogd::content::comments::CreateComment>(body),
        3 => check::<blogd::api::auth::LoginRequest>(body),
        4 => check::<blogd::api::auth::RegisterRequest>(body),
        5 => check::<blogd::api::users::UpdateUser>(body),
        6 => check::<blogd::content::taxonomy::CreateCategory>(body),
        _ => check::<blogd::api::account::UpdateMe>(body),
    }
});
