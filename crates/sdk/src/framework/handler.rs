//! The shapes of the async functions a plugin hands the framework.
//!
//! Each trait is implemented for every `async fn` (or function returning a
//! future) with the matching parameters, so a plugin writes plain
//! `async fn read_role(b: &MyBackend, req: &Request, data: &FieldData)` and
//! passes `read_role`. The traits exist because Rust cannot yet say "a
//! function whose future borrows its arguments and is `Send`" with `Fn`
//! bounds alone.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use super::field_data::FieldData;
use crate::logical::{Error, Request, Response};

/// A boxed, sendable future borrowing from `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an operation handler returns: a response, nothing (`Ok(None)`: a read
/// of it is a 404), or an error the SDK turns into Vault's shape.
pub type HandlerResult = Result<Option<Response>, Error>;

/// An operation handler: `async fn(&B, &Request, &FieldData) -> HandlerResult`.
pub trait OperationFn<'a, B: 'a>: Send + Sync + 'static {
    type Future: Future<Output = HandlerResult> + Send + 'a;
    fn call(&self, backend: &'a B, req: &'a Request, data: &'a FieldData) -> Self::Future;
}

impl<'a, B: 'a, F, Fut> OperationFn<'a, B> for F
where
    F: Fn(&'a B, &'a Request, &'a FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, backend: &'a B, req: &'a Request, data: &'a FieldData) -> Fut {
        self(backend, req, data)
    }
}

/// An existence check: `async fn(&B, &Request, &FieldData) -> Result<bool, Error>`.
pub trait ExistenceFn<'a, B: 'a>: Send + Sync + 'static {
    type Future: Future<Output = Result<bool, Error>> + Send + 'a;
    fn call(&self, backend: &'a B, req: &'a Request, data: &'a FieldData) -> Self::Future;
}

impl<'a, B: 'a, F, Fut> ExistenceFn<'a, B> for F
where
    F: Fn(&'a B, &'a Request, &'a FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, Error>> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, backend: &'a B, req: &'a Request, data: &'a FieldData) -> Fut {
        self(backend, req, data)
    }
}

/// A request-level hook with no fields: secret renew/revoke, auth renew and
/// the periodic function: `async fn(&B, &Request) -> HandlerResult`.
pub trait RequestFn<'a, B: 'a>: Send + Sync + 'static {
    type Future: Future<Output = HandlerResult> + Send + 'a;
    fn call(&self, backend: &'a B, req: &'a Request) -> Self::Future;
}

impl<'a, B: 'a, F, Fut> RequestFn<'a, B> for F
where
    F: Fn(&'a B, &'a Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, backend: &'a B, req: &'a Request) -> Fut {
        self(backend, req)
    }
}

/// Undoes one write-ahead-log entry:
/// `async fn(&B, &Request, kind: &str, data: &Value) -> Result<(), Error>`.
pub trait RollbackFn<'a, B: 'a>: Send + Sync + 'static {
    type Future: Future<Output = Result<(), Error>> + Send + 'a;
    fn call(
        &self,
        backend: &'a B,
        req: &'a Request,
        kind: &'a str,
        data: &'a Value,
    ) -> Self::Future;
}

impl<'a, B: 'a, F, Fut> RollbackFn<'a, B> for F
where
    F: Fn(&'a B, &'a Request, &'a str, &'a Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, backend: &'a B, req: &'a Request, kind: &'a str, data: &'a Value) -> Fut {
        self(backend, req, kind, data)
    }
}

/// A backend-level hook: `async fn(&B)` (cleanup).
pub trait HookFn<'a, B: 'a>: Send + Sync + 'static {
    type Future: Future<Output = ()> + Send + 'a;
    fn call(&self, backend: &'a B) -> Self::Future;
}

impl<'a, B: 'a, F, Fut> HookFn<'a, B> for F
where
    F: Fn(&'a B) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, backend: &'a B) -> Fut {
        self(backend)
    }
}

/// Called with the storage key another node changed: `async fn(&B, &str)`.
pub trait InvalidateFn<'a, B: 'a>: Send + Sync + 'static {
    type Future: Future<Output = ()> + Send + 'a;
    fn call(&self, backend: &'a B, key: &'a str) -> Self::Future;
}

impl<'a, B: 'a, F, Fut> InvalidateFn<'a, B> for F
where
    F: Fn(&'a B, &'a str) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, backend: &'a B, key: &'a str) -> Fut {
        self(backend, key)
    }
}

/// Type-erased forms the framework stores.
pub(crate) type Operation<B> = Box<
    dyn for<'a> Fn(&'a B, &'a Request, &'a FieldData) -> BoxFuture<'a, HandlerResult> + Send + Sync,
>;
pub(crate) type Existence<B> = Box<
    dyn for<'a> Fn(&'a B, &'a Request, &'a FieldData) -> BoxFuture<'a, Result<bool, Error>>
        + Send
        + Sync,
>;
pub(crate) type RequestHook<B> =
    Box<dyn for<'a> Fn(&'a B, &'a Request) -> BoxFuture<'a, HandlerResult> + Send + Sync>;
pub(crate) type Rollback<B> = Box<
    dyn for<'a> Fn(&'a B, &'a Request, &'a str, &'a Value) -> BoxFuture<'a, Result<(), Error>>
        + Send
        + Sync,
>;
pub(crate) type Hook<B> = Box<dyn for<'a> Fn(&'a B) -> BoxFuture<'a, ()> + Send + Sync>;
pub(crate) type Invalidate<B> =
    Box<dyn for<'a> Fn(&'a B, &'a str) -> BoxFuture<'a, ()> + Send + Sync>;

pub(crate) fn operation<B: 'static, H: for<'a> OperationFn<'a, B>>(h: H) -> Operation<B> {
    Box::new(move |b, r, d| Box::pin(h.call(b, r, d)))
}

pub(crate) fn existence<B: 'static, H: for<'a> ExistenceFn<'a, B>>(h: H) -> Existence<B> {
    Box::new(move |b, r, d| Box::pin(h.call(b, r, d)))
}

pub(crate) fn request_hook<B: 'static, H: for<'a> RequestFn<'a, B>>(h: H) -> RequestHook<B> {
    Box::new(move |b, r| Box::pin(h.call(b, r)))
}

pub(crate) fn rollback<B: 'static, H: for<'a> RollbackFn<'a, B>>(h: H) -> Rollback<B> {
    Box::new(move |b, r, k, d| Box::pin(h.call(b, r, k, d)))
}

pub(crate) fn hook<B: 'static, H: for<'a> HookFn<'a, B>>(h: H) -> Hook<B> {
    Box::new(move |b| Box::pin(h.call(b)))
}

pub(crate) fn invalidate<B: 'static, H: for<'a> InvalidateFn<'a, B>>(h: H) -> Invalidate<B> {
    Box::new(move |b, k| Box::pin(h.call(b, k)))
}
