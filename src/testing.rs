//! Values the unit tests of several layers share. Imports nothing, so any module's tests may use
//! it without importing a layer above their own.

/// The user pool provider of the test configs' user pool (`us-east-1_abc123`).
pub const PROVIDER: &str = "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc123";
