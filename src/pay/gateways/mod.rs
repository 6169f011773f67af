//! The gateway connectors, one folder per gateway, each implementing `pay::connector::Connector`.
