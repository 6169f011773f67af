//! Fee payments. `connector` is the contract between the payment domain and the gateways;
//! `gateways` holds one folder per gateway (protocol-exact wire formats, signing, verification).
pub mod connector;
pub mod gateways;
