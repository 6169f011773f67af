//! Fee payments. `connector` is the contract between the payment domain and the gateways;
//! `gateways` holds one folder per gateway (protocol-exact wire formats, signing, verification).
pub mod connector;
pub mod gateways;

// The payment domain (pay-core): pure state machines and ledger, then the service around them.
pub mod ledger;
pub mod registry;
pub mod service;
pub mod state;
pub mod worker;
