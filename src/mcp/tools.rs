//! The five tools, with the names and arguments AI-agent frontends of this
//! app use (`add_task`, `list_tasks`, `complete_task`, `delete_task`,
//! `update_task`, each taking `user_id`), plus the richer fields, list filters
//! and a cursor.
//!
//! Arguments are checked against their schema first (types, unknown names),
//! then sent on as the REST request they stand for; whatever the REST API
//! refuses comes back as a tool error with its reasons, for the model to read.

use std::sync::Arc;

use poem::http::{Method, request::Parts};
use rmcp::{
    ErrorData, ServerHandler,
    handler::server::{
        common::{schema_for_input, schema_for_output},
        router::tool::ToolRouter,
        tool::Extension,
    },
    model::{
        CallToolResult, ContentBlock, Implementation, JsonObject, ServerCapabilities, ServerConfig,
    },
    schemars::JsonSchema,
    tool, tool_handler, tool_router,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value, json};

use crate::api::request_id::RequestId;

use super::{
    Caller,
    rest::{Call, Reply, Rest},
    schema::{
        AddTask, CompleteTask, DeleteTask, Done, ListTasks, TaskPage, TaskResult, UpdateTask,
    },
};

/// What a tool answers: its result, or a tool error for the model to read.
type Outcome = Result<CallToolResult, CallToolResult>;

#[derive(Clone)]
pub struct TaskTools {
    rest: Rest,
    /// Built once: the SDK makes a handler per request (stateless), by cloning this one.
    tool_router: Arc<ToolRouter<Self>>,
}

#[tool_router]
impl TaskTools {
    pub fn new(rest: Rest) -> Self {
        Self {
            rest,
            tool_router: Arc::new(Self::tool_router()),
        }
    }

    /// Create a task for the user. Answers its `task_id` and the whole task.
    #[tool(
        input_schema = input::<AddTask>(),
        output_schema = output::<TaskResult>(),
        annotations(
            title = "Add a task",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn add_task(
        &self,
        Extension(parts): Extension<Parts>,
        args: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        let tool = async |rest: &Rest, caller: &Caller, args: AddTask, body: JsonObject| {
            let mut call = Call::new(Method::POST, "/tasks".to_owned());
            call.idempotency_key = args.idempotency_key.as_deref();
            call.body = Some(Value::Object(body));
            one_task(&rest.send(caller, call).await, Done::Created)
        };
        Ok(self.run("add_task", &parts, args, tool).await)
    }

    /// List the user's tasks (newest first unless `sort` says otherwise) with
    /// filters that combine with AND. Answers at most `limit` tasks, and a
    /// `next_cursor` when more follow.
    #[tool(
        input_schema = input::<ListTasks>(),
        output_schema = output::<TaskPage>(),
        annotations(
            title = "List tasks",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_tasks(
        &self,
        Extension(parts): Extension<Parts>,
        args: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        let tool = async |rest: &Rest, caller: &Caller, args: ListTasks, _: JsonObject| {
            let mut call = Call::new(Method::GET, "/tasks".to_owned());
            call.query = list_query(args);
            let mut reply = rest.send(caller, call).await;
            let Some(tasks) = reply
                .is_success()
                .then(|| objects(reply.body.take()))
                .flatten()
            else {
                return Err(tool_error(&reply));
            };
            let mut text = match tasks.len() {
                0 => "No tasks match.".to_owned(),
                1 => "1 task:".to_owned(),
                n => format!("{n} tasks:"),
            };
            for task in &tasks {
                text.push('\n');
                text.push_str(&task_line(task));
            }
            let page = TaskPage {
                next_cursor: reply.next_cursor(),
                total: reply.total,
                tasks,
            };
            if page.next_cursor.is_some() {
                text.push_str("\nMore follow: pass next_cursor as cursor for the next page.");
            }
            Ok(structured(text, &page))
        };
        Ok(self.run("list_tasks", &parts, args, tool).await)
    }

    /// Mark a task done (or, with `completed: false`, not done). A recurring
    /// task moves to its next occurrence and stays pending.
    #[tool(
        input_schema = input::<CompleteTask>(),
        output_schema = output::<TaskResult>(),
        annotations(
            title = "Complete a task",
            read_only_hint = false,
            destructive_hint = false,
            // Completing a recurring task twice moves it on twice.
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn complete_task(
        &self,
        Extension(parts): Extension<Parts>,
        args: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        let tool = async |rest: &Rest, caller: &Caller, args: CompleteTask, _: JsonObject| {
            let completed = args.completed.unwrap_or(true);
            let mut call = Call::new(Method::PATCH, format!("/tasks/{}/complete", args.task_id));
            call.idempotency_key = args.idempotency_key.as_deref();
            call.expected_version = args.expected_version;
            call.body = Some(json!({ "completed": completed }));
            let done = if completed {
                Done::Completed
            } else {
                Done::Reopened
            };
            one_task(&rest.send(caller, call).await, done)
        };
        Ok(self.run("complete_task", &parts, args, tool).await)
    }

    /// Change some of a task's fields: only those given change.
    #[tool(
        input_schema = input::<UpdateTask>(),
        output_schema = output::<TaskResult>(),
        annotations(
            title = "Update a task",
            read_only_hint = false,
            // The values it replaces are gone.
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update_task(
        &self,
        Extension(parts): Extension<Parts>,
        args: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        let tool = async |rest: &Rest, caller: &Caller, args: UpdateTask, body: JsonObject| {
            let mut call = Call::new(Method::PUT, format!("/tasks/{}", args.task_id));
            call.idempotency_key = args.idempotency_key.as_deref();
            call.expected_version = args.expected_version;
            call.body = Some(Value::Object(body));
            one_task(&rest.send(caller, call).await, Done::Updated)
        };
        Ok(self.run("update_task", &parts, args, tool).await)
    }

    /// Delete a task: it goes to the user's trash, where the app can restore it
    /// until it is purged.
    #[tool(
        input_schema = input::<DeleteTask>(),
        output_schema = output::<TaskResult>(),
        annotations(
            title = "Delete a task",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete_task(
        &self,
        Extension(parts): Extension<Parts>,
        args: JsonObject,
    ) -> Result<CallToolResult, ErrorData> {
        let tool = async |rest: &Rest, caller: &Caller, args: DeleteTask, _: JsonObject| {
            // The title, for the answer: the delete itself answers no body.
            let path = format!("/tasks/{}", args.task_id);
            let found = rest
                .send(caller, Call::new(Method::GET, path.clone()))
                .await;
            // Without a key a missing task is an error now; with one, the
            // delete may be a retry whose first run moved it to the trash.
            if !found.is_success() && args.idempotency_key.is_none() {
                return Err(tool_error(&found));
            }
            let title = found.body["title"].as_str().map(str::to_owned);
            let mut call = Call::new(Method::DELETE, path);
            call.idempotency_key = args.idempotency_key.as_deref();
            call.expected_version = args.expected_version;
            let reply = rest.send(caller, call).await;
            if !reply.is_success() {
                return Err(tool_error(&reply));
            }
            let text = match &title {
                Some(title) => format!(
                    "Deleted task {} {title:?} (moved to the trash).",
                    args.task_id
                ),
                None => format!("Deleted task {} (moved to the trash).", args.task_id),
            };
            Ok(structured(
                text,
                &TaskResult {
                    task_id: args.task_id,
                    status: Done::Deleted,
                    title,
                    task: None,
                    replayed: reply.replayed,
                },
            ))
        };
        Ok(self.run("delete_task", &parts, args, tool).await)
    }
}

impl TaskTools {
    /// Checks `args` against `A` (types, unknown names) and `user_id` against
    /// the caller, then runs `tool` with the typed arguments and the rest of
    /// them (a REST body: what is left without the tool's own arguments).
    async fn run<A: DeserializeOwned>(
        &self,
        name: &'static str,
        parts: &Parts,
        args: JsonObject,
        tool: impl AsyncFnOnce(&Rest, &Caller, A, JsonObject) -> Outcome,
    ) -> CallToolResult {
        let started = std::time::Instant::now();
        let Some(caller) = parts.extensions.get::<Caller>() else {
            // `authenticate` runs before every request.
            return error_text("this request was not authenticated".to_owned());
        };
        let result = match serde_json::from_value::<A>(Value::Object(args.clone())) {
            Err(err) => Err(error_text(format!("Invalid arguments: {err}"))),
            Ok(typed) => match args.get("user_id").and_then(Value::as_str) {
                Some(user) if user == caller.user.as_str() => {
                    let mut body = args;
                    for control in CONTROL_ARGUMENTS {
                        body.remove(*control);
                    }
                    tool(&self.rest, caller, typed, body).await
                }
                other => Err(error_text(format!(
                    "user_id {:?} is not the signed-in user: this connection's token is for \
                     user_id {:?}, and a tool acts for that user only",
                    other.unwrap_or_default(),
                    caller.user.as_str()
                ))),
            },
        };
        let failed = result.is_err();
        crate::telemetry::tool_call(name, failed);
        // The SDK runs tools outside the request's span: its id is named here.
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map_or("-", RequestId::as_str);
        tracing::info!(
            target: "todo_api::mcp",
            %request_id,
            tool = name,
            error = failed,
            latency_us = started.elapsed().as_micros() as u64,
        );
        result.unwrap_or_else(|error| error)
    }
}

/// Arguments of the tools themselves, never part of a REST body.
const CONTROL_ARGUMENTS: &[&str] = &[
    "user_id",
    "task_id",
    "idempotency_key",
    "expected_version",
    "completed",
];

/// `list_tasks`'s arguments as the REST listing's query.
fn list_query(args: ListTasks) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    // The wire name of an enum value, as its schema lists it.
    let name = |value: Value| value.as_str().unwrap_or_default().to_owned();
    if let Some(status) = args.status {
        query.push(("status", name(json!(status))));
    }
    for priority in args.priority.unwrap_or_default() {
        query.push(("priority", name(json!(priority))));
    }
    for tag in args.tags.unwrap_or_default() {
        query.push(("tag", tag));
    }
    if let Some(due) = args.due {
        query.push(("due", name(json!(due))));
    }
    let texts = [
        ("tz", args.tz),
        ("due_from", args.due_from),
        ("due_to", args.due_to),
        ("search", args.search),
        ("sort", args.sort),
        ("cursor", args.cursor),
    ];
    query.extend(
        texts
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?))),
    );
    query.push(("limit", args.limit.unwrap_or(DEFAULT_LIMIT).to_string()));
    if args.include_total == Some(true) {
        query.push(("include_total", "true".to_owned()));
    }
    query
}

/// Tasks a listing returns unless `limit` says otherwise: enough for a
/// conversation, few enough for a model's context.
const DEFAULT_LIMIT: u32 = 50;

/// A write's answer: the task, or the REST API's refusal as a tool error.
fn one_task(reply: &Reply, done: Done) -> Outcome {
    let Some(task) = reply.body.as_object().filter(|_| reply.is_success()) else {
        return Err(tool_error(reply));
    };
    let id = task.get("id").and_then(Value::as_i64).unwrap_or_default();
    let title = task.get("title").and_then(Value::as_str).map(str::to_owned);
    let verb = match done {
        Done::Created => "Created",
        Done::Updated => "Updated",
        Done::Completed if task.get("completed") == Some(&Value::Bool(false)) => {
            "Completed this occurrence of"
        }
        Done::Completed => "Completed",
        Done::Reopened => "Reopened",
        Done::Deleted => "Deleted",
    };
    let mut text = format!("{verb} task: {}", task_line(task));
    if reply.replayed {
        text.push_str("\n(The stored result of an earlier call with this idempotency_key: nothing changed now.)");
    }
    Ok(structured(
        text,
        &TaskResult {
            task_id: id,
            status: done,
            title,
            task: Some(task.clone()),
            replayed: reply.replayed,
        },
    ))
}

/// `#5 [ ] Buy milk (high, due 2026-12-24, tags: errands)`.
fn task_line(task: &Map<String, Value>) -> String {
    let check = if task.get("completed") == Some(&Value::Bool(true)) {
        "x"
    } else {
        " "
    };
    let mut line = format!(
        "#{} [{check}] {}",
        task.get("id").and_then(Value::as_i64).unwrap_or_default(),
        task.get("title")
            .and_then(Value::as_str)
            .unwrap_or_default()
    );
    let mut notes = Vec::new();
    if let Some(priority) = task.get("priority").and_then(Value::as_str)
        && priority != "none"
    {
        notes.push(priority.to_owned());
    }
    let due = task.get("due");
    if let Some(due) = due
        .and_then(|due| due.get("datetime").and_then(Value::as_str))
        .or_else(|| due.and_then(|due| due.get("date").and_then(Value::as_str)))
    {
        notes.push(format!("due {due}"));
    }
    if task.get("recurrence").is_some_and(|rule| !rule.is_null()) {
        notes.push("repeats".to_owned());
    }
    if let Some(tags) = task.get("tags").and_then(Value::as_array)
        && !tags.is_empty()
    {
        let tags: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
        notes.push(format!("tags: {}", tags.join(", ")));
    }
    if !notes.is_empty() {
        line.push_str(&format!(" ({})", notes.join(", ")));
    }
    line
}

/// The objects of a JSON array.
fn objects(body: Value) -> Option<Vec<Map<String, Value>>> {
    let Value::Array(items) = body else {
        return None;
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(object) => Some(object),
            _ => None,
        })
        .collect()
}

/// A result with `value` as its structured content: a short text for people,
/// then the same JSON as text for clients that read only text.
fn structured(text: String, value: &impl Serialize) -> CallToolResult {
    let value = serde_json::to_value(value).unwrap_or_default();
    let mut result = CallToolResult::structured(value);
    result.content.insert(0, ContentBlock::text(text));
    result
}

fn error_text(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// The REST API's refusal, as a tool error the model can read.
fn tool_error(reply: &Reply) -> CallToolResult {
    error_text(reply.problem_text())
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TaskTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("todo-api", env!("CARGO_PKG_VERSION")).with_title("Todo API"),
            )
            .with_instructions(
                "Manage the signed-in user's todo tasks. Every tool takes `user_id`: the id of \
                 the user whose token this connection carries. Use list_tasks to find a task's \
                 id before completing, updating or deleting it.",
            )
    }
}

/// The input schema of `T`, checked by the SDK.
fn input<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    standard(&schema_for_input::<T>().unwrap_or_else(|err| panic!("input schema: {err}")))
}

fn output<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    standard(&schema_for_output::<T>())
}

/// `schema` without schemars' integer formats (`int64`, `uint32`, …): they
/// are not JSON Schema's, and validators warn about them or refuse them.
fn standard(schema: &JsonObject) -> Arc<JsonObject> {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map
                    .get("format")
                    .and_then(Value::as_str)
                    .is_some_and(|format| format.starts_with("int") || format.starts_with("uint"))
                {
                    map.remove("format");
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = Value::Object(schema.clone());
    strip(&mut value);
    match value {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("a schema object stays an object"),
    }
}
