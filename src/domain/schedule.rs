//! What a write stores for the parts of a task that depend on each other:
//! its due, its series, whether it is done, and its reminders.

use chrono::{DateTime, Utc};

use super::{
    Due, FieldError, NewTask, Problems, Reminders, TaskChanges, ValidationError,
    recurrence::{Advance, Recurrence, Series},
};

/// A task's schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub due: Option<Due>,
    pub series: Option<Series>,
    pub completed: bool,
    pub reminders: Reminders,
    /// The next moment a reminder is for (`None`: none is pending).
    pub remind_at: Option<DateTime<Utc>>,
}

/// How a write asks to change completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Leave,
    Set(bool),
    Toggle,
}

impl Schedule {
    /// A new task's.
    pub fn new(task: &NewTask, now: DateTime<Utc>) -> Result<Self, ValidationError> {
        let mut problems = Problems::default();
        let series = start(task.recurrence.clone(), task.due.as_ref(), &mut problems);
        check_reminders(&task.reminders, task.due.as_ref(), &mut problems);
        problems.finish(|| Self {
            due: task.due.clone(),
            series: series.flatten(),
            completed: false,
            remind_at: task.reminders.next_after(task.due.as_ref(), now),
            reminders: task.reminders.clone(),
        })
    }

    /// This schedule after `changes` (their due, recurrence, reminders) and
    /// `completion`. Completing a recurring task moves it to its next
    /// occurrence (it stays pending), or completes it for good after the
    /// last one; un-completing one that is pending changes nothing. Setting
    /// another due or rule starts the series again from the due.
    pub fn change(
        &self,
        changes: &TaskChanges,
        completion: Completion,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationError> {
        let mut problems = Problems::default();
        let mut due = changes.due.clone().unwrap_or_else(|| self.due.clone());
        let current = self.series.as_ref().map(|series| &series.recurrence);
        let recurrence = match &changes.recurrence {
            Some(recurrence) => recurrence.clone(),
            None => current.cloned(),
        };
        let restart = due != self.due || recurrence.as_ref() != current;
        let mut series = if restart {
            start(recurrence, due.as_ref(), &mut problems).flatten()
        } else {
            self.series.clone()
        };
        let reminders = changes
            .reminders
            .clone()
            .unwrap_or_else(|| self.reminders.clone());
        check_reminders(&reminders, due.as_ref(), &mut problems);
        problems.finish(|| ())?;
        let mut completed = self.completed;
        let mut advanced = false;
        let wanted = match completion {
            Completion::Leave => None,
            Completion::Set(state) => Some(state),
            Completion::Toggle => Some(!self.completed),
        };
        match (wanted, series.as_mut(), due.as_ref()) {
            (Some(true), Some(running), Some(current_due)) if !completed => {
                match running.advance(current_due, now) {
                    Advance::Next {
                        due: next,
                        series: moved,
                    } => {
                        due = Some(next);
                        *running = moved;
                    }
                    Advance::Ended => {
                        completed = true;
                        running.done += 1;
                    }
                }
                advanced = true;
            }
            (Some(false), Some(_), _) if !completed => {}
            (Some(state), _, _) => completed = state,
            (None, _, _) => {}
        }
        let remind_at = if advanced || due != self.due || reminders != self.reminders {
            reminders.next_after(due.as_ref(), now)
        } else {
            self.remind_at
        };
        Ok(Self {
            due,
            series,
            completed,
            reminders,
            remind_at,
        })
    }
}

/// The series a rule starts from `due`, with its problem noted: `None`
/// inside for no rule.
fn start(
    recurrence: Option<Recurrence>,
    due: Option<&Due>,
    problems: &mut Problems,
) -> Option<Option<Series>> {
    let Some(recurrence) = recurrence else {
        return Some(None);
    };
    let Some(due) = due else {
        return problems
            .check(Err(FieldError::new(
                "recurrence",
                "needs a due: the due is the first occurrence (set a due, or send recurrence: null)",
            )))
            .map(Some);
    };
    problems
        .check(
            Series::start(recurrence, due).map_err(|why| FieldError::new("recurrence.rrule", why)),
        )
        .map(Some)
}

fn check_reminders(reminders: &Reminders, due: Option<&Due>, problems: &mut Problems) {
    if let Some(index) = reminders.needing_a_time(due) {
        problems.push(
            "reminders",
            format!(
                "item {index}: `before` needs a due with a time (a datetime): an all-day due or none has no instant to count back from (use `at` instead)"
            ),
        );
    }
}
