// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for Sluice's parsers of hostile input. Not part of the root package,
// so `swift build` and `swift test` at the root are unaffected. Build and run with
// `scripts/fuzz` (it passes `-sanitize=fuzzer,address -parse-as-library -enable-testing`;
// the targets reach internal parsers through `@testable import`).
let targets = [
    "FuzzCampaignJSON", "FuzzCampaignNDJSON", "FuzzCampaignCSV", "FuzzMessageTemplate",
    "FuzzWebhookPayload", "FuzzWebhookSignature", "FuzzResponseDecoder", "FuzzMediaDescription", "FuzzJSONTree",
]

let package = Package(
    name: "SluiceFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Sluice", path: "..")],
    targets: targets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzSupport",
                .product(name: "SluiceServer", package: "Sluice"),
                .product(name: "SluiceEngine", package: "Sluice"),
                .product(name: "SluiceCore", package: "Sluice"),
                .product(name: "SluiceCrypto", package: "Sluice"),
                .product(name: "SluiceTransport", package: "Sluice"),
            ]
        )
    } + [
        .target(
            name: "FuzzSupport",
            dependencies: [
                "CLibFuzzer",
                .product(name: "SluiceServer", package: "Sluice"),
                .product(name: "SluiceTransport", package: "Sluice"),
            ]
        ),
        .target(name: "CLibFuzzer"),
    ],
    swiftLanguageModes: [.v6]
)
