//! A PostgreSQL connection driven on a thread of its own. The `postgres`
//! crate runs every call on a runtime it owns, which panics on a thread
//! already driving a tokio runtime (the server's handlers): this thread is
//! never one, so the store may be called from anywhere, as SQLite's is.
//! Each call sends its SQL and owned parameters and waits for the answer;
//! the thread keeps each statement prepared once.

use std::collections::HashMap;
use std::error::Error;
use std::sync::mpsc;

use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Row, Statement};

use crate::StoreError;

/// A query parameter, owned so it can be sent to the connection's thread.
#[derive(Debug)]
pub enum Param {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    Bytes(Option<Vec<u8>>),
    /// Arrays, for one statement over many rows (`UNNEST`).
    Ints(Vec<i64>),
    Texts(Vec<String>),
    ByteArrays(Vec<Option<Vec<u8>>>),
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Param::Int(v) => v.to_sql(ty, out),
            Param::OptInt(v) => v.to_sql(ty, out),
            Param::Text(v) => v.to_sql(ty, out),
            Param::Bytes(v) => v.to_sql(ty, out),
            Param::Ints(v) => v.to_sql(ty, out),
            Param::Texts(v) => v.to_sql(ty, out),
            Param::ByteArrays(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        i64::accepts(ty)
            || String::accepts(ty)
            || Vec::<u8>::accepts(ty)
            || Vec::<i64>::accepts(ty)
            || Vec::<String>::accepts(ty)
            || Vec::<Option<Vec<u8>>>::accepts(ty)
    }

    /// Checked against the value's own type, not any of the three.
    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Param::Int(v) => v.to_sql_checked(ty, out),
            Param::OptInt(v) => v.to_sql_checked(ty, out),
            Param::Text(v) => v.to_sql_checked(ty, out),
            Param::Bytes(v) => v.to_sql_checked(ty, out),
            Param::Ints(v) => v.to_sql_checked(ty, out),
            Param::Texts(v) => v.to_sql_checked(ty, out),
            Param::ByteArrays(v) => v.to_sql_checked(ty, out),
        }
    }
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_owned())
    }
}

impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(v.clone())
    }
}

impl From<&[u8]> for Param {
    fn from(v: &[u8]) -> Self {
        Param::Bytes(Some(v.to_vec()))
    }
}

impl From<&Vec<u8>> for Param {
    fn from(v: &Vec<u8>) -> Self {
        Param::Bytes(Some(v.clone()))
    }
}

impl From<Vec<u8>> for Param {
    fn from(v: Vec<u8>) -> Self {
        Param::Bytes(Some(v))
    }
}

impl From<Option<Vec<u8>>> for Param {
    fn from(v: Option<Vec<u8>>) -> Self {
        Param::Bytes(v)
    }
}

impl From<&Option<Vec<u8>>> for Param {
    fn from(v: &Option<Vec<u8>>) -> Self {
        Param::Bytes(v.clone())
    }
}

impl From<Vec<i64>> for Param {
    fn from(v: Vec<i64>) -> Self {
        Param::Ints(v)
    }
}

impl From<Vec<String>> for Param {
    fn from(v: Vec<String>) -> Self {
        Param::Texts(v)
    }
}

impl From<Vec<Option<Vec<u8>>>> for Param {
    fn from(v: Vec<Option<Vec<u8>>>) -> Self {
        Param::ByteArrays(v)
    }
}

/// `params![a, b]`: the owned parameters of one statement.
macro_rules! params {
    ($($param:expr),* $(,)?) => {
        vec![$($crate::pg::connection::Param::from($param)),*]
    };
}
pub(crate) use params;

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// The connection's own thread: its client and its prepared statements.
struct Worker {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Worker {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.client.query(&statement, &params)
    }
}

pub struct Connection {
    jobs: mpsc::Sender<Job>,
}

impl Connection {
    /// Connects on a new thread; the thread ends when the connection is
    /// dropped.
    pub fn open(url: &str) -> Result<Connection, StoreError> {
        let (jobs, receive) = mpsc::channel::<Job>();
        let (connected, outcome) = mpsc::sync_channel(1);
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("truce-postgres".to_owned())
            .spawn(move || {
                let client = match Client::connect(&url, NoTls) {
                    Ok(client) => {
                        let _ = connected.send(Ok(()));
                        client
                    }
                    Err(e) => {
                        let _ = connected.send(Err(e));
                        return;
                    }
                };
                let mut worker = Worker {
                    client,
                    statements: HashMap::new(),
                };
                for job in receive {
                    job(&mut worker);
                }
            })?;
        match outcome.recv() {
            Ok(Ok(())) => Ok(Connection { jobs }),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!(
                "cannot connect to the database: {}",
                super::message(&e)
            ))),
            Err(_) => Err(gone()),
        }
    }

    fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Worker) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |worker| {
            let _ = reply.send(job(worker));
        });
        self.jobs.send(job).map_err(|_| gone())?;
        Ok(answer.recv().map_err(|_| gone())??)
    }

    /// Runs statements without parameters (schema, transaction control).
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        let sql = sql.to_owned();
        self.run(move |worker| worker.client.batch_execute(&sql))
    }

    pub fn execute(&self, sql: &str, params: Vec<Param>) -> Result<u64, StoreError> {
        let sql = sql.to_owned();
        self.run(move |worker| {
            let statement = worker.statement(&sql)?;
            let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            worker.client.execute(&statement, &params)
        })
    }

    pub fn query(&self, sql: &str, params: Vec<Param>) -> Result<Vec<Row>, StoreError> {
        let sql = sql.to_owned();
        self.run(move |worker| worker.query(&sql, &params))
    }

    /// The one row a query answers (an aggregate, say).
    pub fn query_one(&self, sql: &str, params: Vec<Param>) -> Result<Row, StoreError> {
        let mut rows = self.query(sql, params)?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            n => Err(StoreError::Backend(format!(
                "a query answered {n} rows, not one"
            ))),
        }
    }
}

fn gone() -> StoreError {
    StoreError::Unavailable("the database connection's thread has stopped".to_owned())
}
