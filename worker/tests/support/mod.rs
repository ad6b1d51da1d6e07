pub mod company;
#[allow(dead_code)]
pub mod receiver;
// Shared with the end-to-end tests of the workspace, which use the parts these tests do not.
#[allow(dead_code)]
pub mod smtp;
