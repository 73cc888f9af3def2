//! What people outside the cluster read, rendered from status: pure text
//! in, text out, shared by `kubectl immybot` and the quickstart.
//!
//! - `report`: a MaintenanceReport as Markdown, CSV and one self-contained
//!   HTML page (its charts drawn by the kept Chart.js in `assets/`).

pub mod report;
