//! The one line a plugin prints on stdout once it listens:
//! `CORE|APP|NETWORK|ADDRESS|PROTOCOL|SERVER_CERT[|MULTIPLEX]`.

use base64::Engine;
use std::path::Path;

/// go-plugin's core protocol version.
const CORE_PROTOCOL_VERSION: u32 = 1;

/// Formats the handshake line (without the newline). The certificate is DER
/// in unpadded standard base64 (Go's `RawStdEncoding`). The seventh field is
/// only sent when the host asked (`PLUGIN_MULTIPLEX_GRPC`): older hosts split
/// on the first six `|` and would read it as part of the certificate.
pub fn handshake_line(
    app_version: u32,
    socket: &Path,
    server_cert_der: &[u8],
    multiplex_asked: bool,
) -> String {
    let cert = base64::engine::general_purpose::STANDARD_NO_PAD.encode(server_cert_der);
    let mut line = format!(
        "{CORE_PROTOCOL_VERSION}|{app_version}|unix|{}|grpc|{cert}",
        socket.display()
    );
    if multiplex_asked {
        // We serve the classic broker only.
        line.push_str("|false");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_matches_go_plugin() {
        let line = handshake_line(
            5,
            Path::new("/tmp/plugin123"),
            &[0xff, 0xee, 0xdd, 0xcc],
            false,
        );
        // 4 bytes -> "/+7dzA" without "==" padding.
        assert_eq!(line, "1|5|unix|/tmp/plugin123|grpc|/+7dzA");
        let line = handshake_line(5, Path::new("/tmp/p"), &[1], true);
        assert_eq!(line, "1|5|unix|/tmp/p|grpc|AQ|false");
    }
}
