import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// TLS for the API itself (`--tls-cert`, `--tls-key`): HTTP/1.1 over TLS 1.2+.
public enum APIServerTLS {
    /// The server for `Application(server:)`: TLS when the settings name a certificate
    /// and key, plain HTTP/1.1 otherwise. Throws a ``SettingsError`` naming the file
    /// that is not a usable PEM.
    public static func server(_ settings: ServeSettings) throws -> HTTPServerBuilder {
        let http1 = HTTPServerBuilder.http1(configuration: settings.slowClients.channelConfiguration)
        guard let certPath = settings.tlsCert, let keyPath = settings.tlsKey else { return http1 }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certPath)
        } catch {
            throw SettingsError("tls-cert '\(certPath)' is not a PEM certificate chain: \(error)")
        }
        guard !chain.isEmpty else { throw SettingsError("tls-cert '\(certPath)' holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw SettingsError("tls-key '\(keyPath)' is not a PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            return try .tls(http1, tlsConfiguration: configuration)
        } catch {
            throw SettingsError("the TLS certificate and key cannot be used together: \(error)")
        }
    }
}
