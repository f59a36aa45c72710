//! The admin listener's answers (`--admin`): `/health` for load balancers
//! and `/metrics` for Prometheus. Its connections are served by the same
//! workers as the public ones, in plain HTTP, and never see a file.

use crate::http::{Method, Reply, Request, Status};
use crate::metrics::Board;

/// The Prometheus text format's content type.
const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT_TYPE: &str = "text/plain; charset=utf-8";

/// Answers one request to the admin listener.
pub fn respond(request: &Request, board: &Board) -> Reply {
    if !matches!(request.method, Method::Get | Method::Head) {
        return Reply::error(Status::MethodNotAllowed);
    }
    let target = request.target.as_str();
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    match path {
        // 503 from the moment this process starts to go away (a shutdown,
        // an upgrade hand-over, a --health-delay), so a balancer that polls
        // stops sending new clients here before the listener closes.
        "/health" if board.is_draining() => Reply::text(
            Status::ServiceUnavailable,
            TEXT_TYPE,
            b"draining\n".to_vec(),
        ),
        "/health" => Reply::text(Status::Ok, TEXT_TYPE, b"ok\n".to_vec()),
        "/metrics" => Reply::text(Status::Ok, METRICS_TYPE, board.render().into_bytes()),
        _ => Reply::error(Status::NotFound),
    }
}
