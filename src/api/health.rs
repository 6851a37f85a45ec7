//! Probes for load balancers and orchestrators: no token needed.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::{
    ApiTags, AppState,
    problem::{ErrorSet, statuses::UNAVAILABLE},
};

#[derive(Object)]
struct Status {
    /// `healthy` from `/health`, `ready` from `/ready`.
    status: String,
}

#[derive(ApiResponse)]
enum Healthy {
    /// The process is up.
    #[oai(status = 200)]
    Ok(Json<Status>),
}

#[derive(ApiResponse)]
enum Ready {
    /// The database answers: the server can take traffic.
    #[oai(status = 200)]
    Ok(Json<Status>),
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness
    ///
    /// 200 while the process runs. Touches no database.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Healthy {
        Healthy::Ok(Json(Status {
            status: "healthy".to_owned(),
        }))
    }

    /// Readiness
    ///
    /// 200 when the database answers a query, 503 when it does not.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, state: Data<&AppState>) -> Result<Ready, ErrorSet<UNAVAILABLE>> {
        state.db.ping().await?;
        Ok(Ready::Ok(Json(Status {
            status: "ready".to_owned(),
        })))
    }
}
