//! Reading other people's files: police.uk crime CSVs.

pub mod police;
