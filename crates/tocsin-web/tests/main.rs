//! Integration tests for tocsin-web, in one binary (see ripgrep): the people stories run
//! against the public API on both SQLite and PostgreSQL, with a clock moved by hand.

mod support;

mod people;
