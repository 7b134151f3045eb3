//! Throttle rate strings from the configuration: parsing never panics and an accepted rate is
//! at least one request per at least one second.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(rate) = blogd::throttle::rate::Rate::parse(text) {
        assert!(rate.limit >= 1);
        assert!(rate.period.as_secs() >= 1);
                // What Display prints ("N/Ss") parses back to the same rate.
        assert_eq!(blogd::throttle::rate::Rate::parse(&rate.to_string()), Ok(rate));
    }
});
