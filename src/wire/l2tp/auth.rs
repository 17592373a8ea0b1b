//! Control message security (RFC 3931 §4.3, §5.3, §5.4.1; RFC 2661 §4.2,
//! §4.3).
