import BoKTesting
import CurlHTTP
import Foundation
import KubeClient
import XCTest

/// Errors from the API server and the network: what is retried, what is not, and what the
/// operator reads.
final class KubeClientFaultTests: XCTestCase {
    func test403IsReportedWithTheServersMessageAndNotRetried() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        let message =
            "services \"peer0\" is forbidden: User \"bok\" cannot patch resource \"services\" in API group \"\" "
            + "in the namespace \"org1-f-1\""
        standIn.injectFault(.status(403, message: message), method: "PATCH", pathContains: "/services/peer0", count: 5)
        XCTAssertThrowsError(try client.apply(Manifests.service("peer0", namespace: "org1-f-1"))) { error in
            let e = error as? KubeError
            XCTAssertEqual(e?.statusCode, 403)
            XCTAssertEqual(e?.apiStatus?.reason, "Forbidden")
            let text = "\(error)"
            XCTAssertTrue(text.contains(message), text)
            XCTAssertTrue(text.contains("PATCH /api/v1/namespaces/org1-f-1/services/peer0"), text)
            XCTAssertTrue(text.contains("RBAC"), text)
        }
        XCTAssertEqual(standIn.requests(method: "PATCH"), 1)
    }

    func test500sAreRetriedUntilTheServerRecovers() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        try client.apply(Manifests.namespace("org1-f-1"))
        standIn.injectFault(.status(500), method: "PATCH", pathContains: "/deployments/peer0", count: 2)
        standIn.injectFault(.status(503), method: "GET", pathContains: "/deployments/peer0", count: 1)
        standIn.resetRequestCounts()

        try client.apply(Manifests.deployment("peer0", namespace: "org1-f-1"))
        XCTAssertNotNil(try client.get(.deployment("peer0", namespace: "org1-f-1")))

        let path = "/apis/apps/v1/namespaces/org1-f-1/deployments/peer0"
        XCTAssertEqual(standIn.requestCounts()[KubeStandIn.RequestKey(method: "PATCH", path: path)], 3)
        XCTAssertEqual(standIn.requestCounts()[KubeStandIn.RequestKey(method: "GET", path: path)], 2)
    }

    func testRetriesEndWithTheLastErrorAndTheAttemptCount() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn, retry: RetryPolicy(maxAttempts: 3, initialDelay: 0.01))
        standIn.injectFault(.status(503, message: "etcdserver: leader changed"), method: "DELETE", pathContains: "/namespaces/x", count: 10)
        XCTAssertThrowsError(try client.delete(.namespace("x"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("etcdserver: leader changed"), text)
            XCTAssertTrue(text.contains("after 3 attempts"), text)
        }
        XCTAssertEqual(standIn.requests(method: "DELETE"), 3)
    }

    func testCreateAndReplaceAreNeverRetried() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        standIn.injectFault(.status(500), method: "POST", pathContains: "/namespaces", count: 1)
        XCTAssertThrowsError(try client.create(Manifests.namespace("org1-f-1")))
        XCTAssertEqual(standIn.requests(method: "POST"), 1)
        XCTAssertNil(try client.getIfPresent(.namespace("org1-f-1")))
    }

    func testAServerThatNeverAnswersIsReportedAsATimeout() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn, retry: RetryPolicy(maxAttempts: 2, initialDelay: 0.01), timeout: 0.4)
        standIn.injectFault(.hang, method: "GET", pathContains: "/namespaces/org1-f-1", count: 2)
        let start = Date()
        XCTAssertThrowsError(try client.get(.namespace("org1-f-1"))) { error in
            guard case .transport(_, _, let httpError, let attempts)? = error as? KubeError else { return XCTFail("\(error)") }
            XCTAssertEqual(httpError.kind, .timeout)
            XCTAssertEqual(attempts, 2)
            XCTAssertTrue("\(error)".contains("after 2 attempts"), "\(error)")
            XCTAssertTrue("\(error)".contains("did not answer in time"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
    }

    func testADroppedConnectionIsRetried() throws {
        let standIn = try makeStandIn()
        let client = try makeClient(standIn)
        standIn.injectFault(.dropConnection, method: "GET", pathContains: "/namespaces/default", count: 1)
        XCTAssertEqual(try client.get(.namespace("default")).name, "default")
        XCTAssertEqual(standIn.requests(method: "GET"), 2)
    }

    func testAWrongBearerTokenIs401WithAHint() throws {
        let standIn = try makeStandIn { $0.authentication = .bearerToken("right-token") }
        XCTAssertEqual(try makeClient(standIn).get(.namespace("default")).name, "default")

        var config = try KubeConfig.load(path: standIn.kubeconfigPath)
        config.bearerToken = "wrong-token"
        let client = KubeClient(config: config, retryPolicy: .none)
        XCTAssertThrowsError(try client.get(.namespace("default"))) { error in
            XCTAssertEqual((error as? KubeError)?.statusCode, 401)
            XCTAssertTrue("\(error)".contains("rejected the credentials"), "\(error)")
        }
    }

    func testAClientWithoutItsCertificateIsRefusedInTheHandshake() throws {
        let standIn = try makeStandIn()
        var config = try KubeConfig.load(path: standIn.kubeconfigPath)
        config.tls.clientCertPEM = nil
        config.tls.clientKeyPEM = nil
        let client = KubeClient(config: config, retryPolicy: RetryPolicy(maxAttempts: 2, initialDelay: 0.01))
        XCTAssertThrowsError(try client.get(.namespace("default"))) { error in
            guard case .transport? = error as? KubeError else { return XCTFail("\(error)") }
        }
    }

    func testAServerCertificateFromAnotherCAIsRejectedUnlessVerificationIsOff() throws {
        let standIn = try makeStandIn()
        var config = try KubeConfig.load(path: standIn.kubeconfigPath)
        config.tls.caPEM = nil  // the system trust store does not know the stand-in's CA
        XCTAssertThrowsError(try KubeClient(config: config, retryPolicy: .none).get(.namespace("default"))) { error in
            guard case .transport(_, _, let httpError, _)? = error as? KubeError else { return XCTFail("\(error)") }
            XCTAssertEqual(httpError.kind, .tls, "\(error)")
        }
        config.tls.insecureSkipVerify = true
        XCTAssertEqual(try KubeClient(config: config, retryPolicy: .none).get(.namespace("default")).name, "default")
    }

    func testPlainHTTPStandInWorksToo() throws {
        let standIn = try makeStandIn {
            $0.scheme = .http
            $0.authentication = .none
        }
        XCTAssertTrue(standIn.url.hasPrefix("http://127.0.0.1:"))
        XCTAssertEqual(try makeClient(standIn).serverVersion().gitVersion, "v1.32.0")
    }

    func testNonStatusErrorBodiesStillGiveCodeAndText() {
        let status = APIStatus(response: HTTPResponse(status: 502, headers: [:], body: Data("<html>Bad Gateway</html>".utf8)))
        XCTAssertEqual(status.code, 502)
        XCTAssertEqual(status.reason, "InternalError")
        XCTAssertEqual(status.message, "<html>Bad Gateway</html>")
    }
}
