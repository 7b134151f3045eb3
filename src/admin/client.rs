//! The admin socket's client, for the console and the shell commands: HTTP/1.1 over the Unix
//! socket, every call with a deadline (a slow or stuck server never freezes the caller).

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::UnixStream;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no blogd answers on {0} (is the server running?)")]
    NotRunning(String),
    #[error("the server did not answer in time")]
    Timeout,
    #[error("{1} (HTTP {0})")]
    Api(u16, String),
    #[error("{0}")]
    Other(String),
}

#[derive(Clone)]
pub struct AdminClient {
    path: PathBuf,
    timeout: Duration,
    /// The door named to the server for its audit records (`console` unless said).
    door: &'static str,
}

impl AdminClient {
    pub fn new(path: &Path) -> AdminClient {
        AdminClient {
            path: path.to_path_buf(),
            timeout: Duration::from_secs(5),
            door: "console",
        }
    }

    /// The same client, naming another door (`cli`) in its calls.
    pub fn for_door(mut self, door: &'static str) -> AdminClient {
        self.door = door;
        self
    }

    /// A client whose calls may take longer (backups and restores).
    pub fn patient(&self) -> AdminClient {
        AdminClient {
            path: self.path.clone(),
            timeout: Duration::from_secs(3600),
            door: self.door,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn connect(
        &self,
    ) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, ClientError> {
        let stream = tokio::time::timeout(Duration::from_secs(2), UnixStream::connect(&self.path))
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|_| ClientError::NotRunning(self.path.display().to_string()))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Other(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Whether a server answers on the socket.
    pub async fn is_up(&self) -> bool {
        self.call::<Value>("GET", "/v1/status", None).await.is_ok()
    }

    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> Result<T, ClientError> {
        let work = async {
            let mut sender = self.connect().await?;
            let bytes = body
                .map(|b| serde_json::to_vec(&b).unwrap_or_default())
                .unwrap_or_default();
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .header("host", "blogd-admin")
                .header("content-type", "application/json")
                .header(super::views::DOOR_HEADER, self.door)
                .body(Full::new(Bytes::from(bytes)))
                .map_err(|e| ClientError::Other(e.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| ClientError::Other(e.to_string()))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Other(e.to_string()))?
                .to_bytes();
            if !status.is_success() {
                let message = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_string))
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
                return Err(ClientError::Api(status.as_u16(), message));
            }
            // An empty answer (204) is `null`: what `()` is read from.
            let body: &[u8] = if body.is_empty() { b"null" } else { &body };
            serde_json::from_slice(body)
                .map_err(|e| ClientError::Other(format!("unexpected answer: {e}")))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    pub async fn get<T: DeserializeOwned>(&self, uri: &str) -> Result<T, ClientError> {
        self.call("GET", uri, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        uri: &str,
        body: Option<Value>,
    ) -> Result<T, ClientError> {
        self.call("POST", uri, body).await
    }

    /// A call with a typed body.
    pub async fn send<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        uri: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_value(body).map_err(|e| ClientError::Other(e.to_string()))?;
        self.call(method, uri, Some(body)).await
    }

    /// Follows a newline-delimited JSON stream, calling `each` per line until it returns false
    /// or the stream ends.
    pub async fn follow<T: DeserializeOwned>(
        &self,
        uri: &str,
        mut each: impl FnMut(T) -> bool,
    ) -> Result<(), ClientError> {
        let mut sender = self.connect().await?;
        let request = Request::builder()
            .uri(uri)
            .header("host", "blogd-admin")
            .body(Full::new(Bytes::new()))
            .map_err(|e| ClientError::Other(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ClientError::Other(e.to_string()))?;
        let mut body = response.into_body();
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ClientError::Other(e.to_string()))?;
            let Some(data) = frame.data_ref() else {
                continue;
            };
            pending.extend_from_slice(data);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if let Ok(value) = serde_json::from_slice::<T>(&line)
                    && !each(value)
                {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}
