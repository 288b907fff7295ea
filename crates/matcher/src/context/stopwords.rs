//! Function words the context model leaves out. They say which language a
//! post is in, not what it is about; kept, a model trained mostly on
//! English negatives learns "French article → about the brand" (seen on the
//! ambiguous-name set: `le`, `el`, `die` tipped most wrong decisions).
//! Lists are short and normalized (lowercase, accents folded).

use std::collections::HashSet;
use std::sync::OnceLock;

const EN: &[&str] = &[
    "the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from",
    "by", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "my", "me", "i",
    "you", "your", "we", "our", "they", "their", "he", "she", "his", "her", "so", "up", "out",
    "just", "all", "again", "as", "not", "no", "do", "did", "has", "have", "had", "about",
];
const FR: &[&str] = &[
    "le", "la", "les", "un", "une", "des", "du", "de", "d", "l", "et", "ou", "mais", "a", "au",
    "aux", "en", "dans", "sur", "pour", "par", "avec", "ce", "cet", "cette", "ces", "mon", "ma",
    "mes", "ton", "ta", "son", "sa", "ses", "je", "j", "tu", "il", "elle", "on", "nous", "vous",
    "ils", "est", "etait", "sont", "ete", "m", "me", "ne", "pas", "plus", "qui", "que", "qu",
    "encore", "tout", "toute", "tous",
];
const ES: &[&str] = &[
    "el", "la", "los", "las", "un", "una", "unos", "unas", "de", "del", "al", "y", "o", "pero",
    "en", "con", "por", "para", "sin", "a", "es", "fue", "era", "son", "mi", "mis", "tu", "su",
    "sus", "me", "se", "lo", "le", "que", "muy", "otra", "otro", "este", "esta", "todo", "ya",
];
const DE: &[&str] = &[
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "und",
    "oder", "aber", "in", "im", "am", "an", "auf", "mit", "von", "vom", "zu", "zum", "zur", "fur",
    "ist", "war", "sind", "mein", "meine", "meinen", "sein", "seine", "ich", "du", "er", "sie",
    "es", "wir", "ihr", "nicht", "kein", "keine", "so", "sehr", "schon", "noch", "wieder",
];
const IT: &[&str] = &[
    "il", "lo", "la", "i", "gli", "le", "un", "una", "di", "del", "della", "e", "o", "ma", "in",
    "con", "per", "su", "da", "a", "al", "che", "non", "mi", "mio", "mia", "e", "era", "sono",
];
const PT: &[&str] = &[
    "o", "a", "os", "as", "um", "uma", "de", "do", "da", "dos", "das", "e", "ou", "mas", "em",
    "no", "na", "com", "por", "para", "que", "nao", "meu", "minha", "foi", "era", "sao", "se",
];
const NL: &[&str] = &[
    "de", "het", "een", "en", "of", "maar", "van", "in", "op", "aan", "met", "voor", "is", "was",
    "zijn", "mijn", "ik", "je", "we", "ze", "niet", "geen", "dat", "die", "dit", "er",
];

/// Whether `word` (normalized) is a function word of any of the lists:
/// all of them, whatever the post's language, since short posts are often
/// detected wrong and a word of one list is rarely telling in another.
pub(crate) fn is_stopword(word: &str) -> bool {
    static ALL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    ALL.get_or_init(|| {
        [EN, FR, ES, DE, IT, PT, NL]
            .into_iter()
            .flatten()
            .copied()
            .collect()
    })
    .contains(word)
}
