//! Earshot's matcher: tags posts against customers, brands, sentiment and intent lexicons.
#![deny(missing_docs)]
