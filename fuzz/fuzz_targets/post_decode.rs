//! `Post` and `Interaction` JSON decoding: never panics, and whatever decodes
//! encodes to JSON that decodes to the same value.
#![no_main]

use earshot_model::{Interaction, Post};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Post::from_json(data) {
        let again = Post::from_json(&p.to_json()).expect("an encoded post decodes");
        assert_eq!(again.id, p.id);
        assert_eq!(again.text, p.text);
    }
    if let Ok(i) = Interaction::from_json(data) {
        let again = Interaction::from_json(&i.to_json()).expect("an encoded interaction decodes");
        assert_eq!(again.post.id, i.post.id);
    }
});
