import enum KubeManifests.ChaincodeNames

/// The markers around the answer a chaincode Job prints for the coordinator.
enum ChaincodeMarkers {
    static let begin = ChaincodeNames.resultBegin
    static let end = ChaincodeNames.resultEnd
}
