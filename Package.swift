// swift-tools-version: 6.1
// BoK — Blockchain on Kubernetes. See README.md for the architecture.
import PackageDescription

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
    .product(name: "NIOSSL", package: "swift-nio-ssl"),
    .product(name: "NIOTLS", package: "swift-nio"),
    .product(name: "NIOExtras", package: "swift-nio-extras"),
]
let pki: [Target.Dependency] = [
    .product(name: "Crypto", package: "swift-crypto"),
    .product(name: "X509", package: "swift-certificates"),
    .product(name: "SwiftASN1", package: "swift-asn1"),
]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let yams: Target.Dependency = .product(name: "Yams", package: "Yams")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "BoK",
    // Linux only (Debian 12 workers and admin machines): the code calls Glibc, netlink-era tools and systemd, so no
    // Apple platform is declared.
    products: [
        .executable(name: "agent", targets: ["Agent"]),
        .executable(name: "coordinator", targets: ["Coordinator"]),
        .executable(name: "bok-bench", targets: ["BoKBench"]),
        .executable(name: "kube-standin", targets: ["KubeStandInTool"]),
        .executable(name: "bok-crypto", targets: ["BoKCrypto"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C shims: the Swift side never sees variadic or macro C APIs.
        .systemLibrary(name: "CCurl", path: "Sources/CCurl"),
        .systemLibrary(name: "CLibSSH2", path: "Sources/CLibSSH2"),

        // BoK's one JSON text parser, building the protocol's and the Kubernetes client's value types.
        .target(name: "JSONScanning"),
        // The wire contract shared by agent and coordinator (no I/O policy).
        .target(
            name: "AgentProtocol", dependencies: ["JSONScanning", .product(name: "NIOCore", package: "swift-nio")],
            path: "Sources/Protocol"),

        // The platform layer, one of each: the process runner, the atomic file writer (secrets 0600 in 0700 directories, no
        // writing through planted links), IP literals, shell quoting.
        .target(name: "BoKSystem"),
        // Bounds for untrusted YAML: size and alias-expanded node count (no alias bombs).
        .target(name: "BoKYAML", dependencies: [yams]),
        // The coordinator's HTTP client over libcurl: the Kubernetes API (HTTPS, client certificates, proxies).
        .target(name: "CurlHTTP", dependencies: ["CCurl"]),
        // The one owner of /etc/default/docker and daemon.json DNS settings (pure).
        .target(name: "DockerConfig", dependencies: ["BoKSystem", "JSONScanning"]),
        // Docker Engine API (HTTP/1.1 on NIO over the unix socket), restart strategies, verification of the running dockerd.
        .target(
            name: "DockerEngine",
            dependencies: [
                "AgentProtocol", "DockerConfig", "BoKSystem", logging,
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        // A tiny DNS stub resolver (UDP) used by node.resolve and health checks.
        .target(name: "DNSQuery", dependencies: ["BoKSystem"]),
        // The agent's Prometheus metrics (every name `bok_agent_`), one-line calls, and the `/metrics` HTTP endpoint.
        .target(
            name: "AgentMetrics",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), logging,
            ]),
        // The agent daemon's logic: config, RPC methods, apply with lock+journal, TLS server.
        .target(
            name: "AgentCore",
            dependencies: [
                "AgentProtocol", "AgentMetrics", "BoKSystem", "DockerConfig", "DockerEngine", "DNSQuery", "PKI", logging,
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ] + nio + pki),
        .executableTarget(name: "Agent", dependencies: ["AgentCore", "AgentProtocol", argumentParser, logging]),

        // Coordinator side: Fabric topology, MSP material, manifests, Kubernetes, SSH, the fleet, the lab.
        .target(name: "FabricTopology", dependencies: ["BoKYAML", yams]),
        .target(name: "PKI", dependencies: ["BoKSystem"] + pki),
        .target(name: "MSP", dependencies: ["FabricTopology", "PKI", "BoKSystem"] + pki),
        // `coordinator crypto` and what every BoK command line shares; also the standalone `bok-crypto`.
        .target(name: "CryptoCLI", dependencies: ["FabricTopology", "MSP", "PKI", "BoKSystem", argumentParser]),
        .executableTarget(name: "BoKCrypto", dependencies: ["CryptoCLI", "AgentProtocol", argumentParser]),
        // `coordinator crypto …` execs the `bok-crypto` beside it before the Swift runtime starts (a C constructor).
        .target(name: "CryptoHandover"),
        .target(
            name: "KubeManifests", dependencies: ["FabricTopology", "BoKSystem", "KubeClient", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "KubeClient", dependencies: ["CurlHTTP", "JSONScanning", "BoKYAML", "BoKSystem", yams, logging]),
        .target(name: "SSHClient", dependencies: ["CLibSSH2", "BoKSystem", logging]),
        .target(name: "Fleet", dependencies: ["AgentProtocol", "BoKSystem", "BoKYAML", "PKI", "DockerConfig", yams] + nio + pki),
        // Agents installed, upgraded and removed over SSH (`coordinator agents install|uninstall`).
        .target(
            name: "AgentInstaller",
            dependencies: ["SSHClient", "Fleet", "PKI", "AgentProtocol", "DockerEngine", "BoKSystem", logging] + pki),
        .target(name: "Lab", dependencies: ["Fleet", "DockerEngine", "BoKSystem", .product(name: "Crypto", package: "swift-crypto")]),
        // `coordinator rollout`, `stop|start|teardown`: the network rollout over KubeClient and the fleet.
        .target(
            name: "Rollout",
            dependencies: [
                "AgentProtocol", "FabricTopology", "MSP", "PKI", "KubeManifests", "KubeClient", "Fleet", "AgentInstaller",
                "DockerEngine", "BoKSystem", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .executableTarget(
            name: "Coordinator",
            dependencies: [
                "AgentProtocol", "FabricTopology", "MSP", "KubeManifests", "KubeClient",
                "SSHClient", "Fleet", "Lab", "LabExecutor", "PKI", "AgentInstaller", "Rollout", "BoKSystem", "CryptoCLI", "CryptoHandover",
                argumentParser,
                logging,
            ]),

        // The Kubernetes API stand-in: real API semantics over an in-memory store (tests, benchmarks, the lab's API).
        .target(
            name: "KubeAPIStandIn",
            dependencies: [
                "KubeClient", "BoKSystem", yams,
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // `kube-standin`: the stand-in on its own, for kubectl or the coordinator by hand.
        .executableTarget(name: "KubeStandInTool", dependencies: ["KubeAPIStandIn", "KubeClient", argumentParser]),
        // `lab up --fabric`: the executor that runs applied Deployments and Jobs as real processes from a Fabric release.
        .target(name: "LabExecutor", dependencies: ["Lab", "KubeClient", "KubeAPIStandIn", "DockerEngine", "BoKSystem"]),
        // Test support shared by test targets: the Kubernetes stand-in, lab and process helpers.
        .target(name: "BoKTesting", dependencies: ["KubeAPIStandIn", "Lab"]),
        // Benchmarks: `swift run -c release bok-bench all` (see BENCHMARKS.md).
        .executableTarget(
            name: "BoKBench",
            dependencies: [
                "AgentCore", "AgentProtocol", "Fleet", "Lab", "DockerConfig", "MSP", "KubeManifests", "FabricTopology",
                "PKI", "KubeClient", "BoKTesting", "Rollout", "CurlHTTP", "BoKSystem", argumentParser, logging,
            ] + nio + pki),

        .testTarget(name: "ProtocolTests", dependencies: ["AgentProtocol"] + nio),
        .testTarget(name: "DockerConfigTests", dependencies: ["DockerConfig", "DNSQuery"]),
        .testTarget(
            name: "AgentTests",
            dependencies: ["BoKSystem", "AgentCore", "AgentProtocol", "DockerEngine", "DockerConfig", "Fleet", "Lab", "BoKTesting", logging]
                + nio),
        .testTarget(name: "FabricTests", dependencies: ["FabricTopology", "MSP", "KubeManifests", "KubeClient", "PKI", "BoKSystem", yams] + pki),
        .testTarget(name: "KubeTests", dependencies: ["KubeClient", "BoKTesting", "CurlHTTP", yams]),
        .testTarget(name: "SSHTests", dependencies: ["SSHClient", "BoKSystem"]),
        .testTarget(
            name: "InstallTests",
            dependencies: [
                "BoKSystem", "AgentInstaller", "AgentCore", "SSHClient", "Fleet", "Lab", "AgentProtocol", "DockerEngine", "BoKTesting",
                "KubeClient",
            ]),
        .testTarget(
            name: "RolloutTests",
            dependencies: [
                "Rollout", "KubeClient", "Fleet", "Lab", "PKI", "MSP", "FabricTopology", "BoKTesting", "DockerConfig",
                "DockerEngine", "AgentProtocol",
            ]),
        .testTarget(name: "LabExecutorTests", dependencies: ["BoKSystem", "LabExecutor", "KubeClient", "DockerEngine", "Lab", "BoKTesting"]),
        // The mission end to end on a lab with real Fabric (needs root, the cached images and a Fabric release).
        .testTarget(name: "FabricLabTests", dependencies: ["BoKSystem", "BoKTesting", "Lab", "DockerEngine", "KubeClient"]),
        // `coordinator chaincode`: rendered Jobs and ConfigMaps, their scripts run for real against a fake `peer`, the
        // deploy against the Kubernetes stand-in.
        .testTarget(
            name: "ChaincodeTests",
            dependencies: [
                "BoKSystem", "Rollout", "KubeManifests", "KubeClient", "FabricTopology", "BoKTesting", "DockerEngine", "Lab",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // The shipped agent on real systemd workers (`lab up --systemd`: systemd-nspawn machines).
        .testTarget(
            name: "SystemdTests",
            dependencies: ["BoKSystem", "AgentInstaller", "AgentProtocol", "Fleet", "Lab", "DockerEngine", "BoKTesting"]),
        // The hostile-input suite (docs/security.md): certificates, wire, files, YAML.
        .testTarget(
            name: "SecurityTests",
            dependencies: [
                "AgentCore", "AgentProtocol", "Fleet", "PKI", "BoKSystem", "BoKYAML", "KubeClient", "FabricTopology",
                "DockerEngine", "BoKTesting", logging,
            ] + nio + pki),
        .testTarget(
            name: "FleetTests", dependencies: ["BoKSystem", "Fleet", "Lab", "AgentProtocol", "DockerConfig", "DockerEngine", "BoKTesting"] + nio),
        // The agent's `/metrics` scraped over real HTTP; `coordinator chaincode watch` against real agents.
        .testTarget(
            name: "MetricsWatchTests",
            dependencies: [
                "AgentMetrics", "AgentCore", "AgentProtocol", "Fleet", "Lab", "DockerEngine", "BoKTesting",
                "CurlHTTP", "BoKSystem", logging,
            ] + nio),
        // Fabric release resolution (unit) and the chaincode images built, imported and used on a lab node (root).
        .testTarget(name: "FabricImageTests", dependencies: ["BoKSystem", "Lab", "DockerEngine"]),
    ]
)
