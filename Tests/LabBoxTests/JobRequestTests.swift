import LabBox
import Testing

/// A submission is an argument vector of a kind the box runs, without the options it owns.
@Suite struct JobRequestTests {
    @Test func aTrainingRunGetsTheBoxsBoardRunFolderAndJSON() throws {
        let request = try JobRequest(arguments: ["train", "ring", "--device-seconds", "10", "--seed", "3"])
        #expect(request.kind.name == "ring-training")
        #expect(request.seed == 3)
        #expect(
            request.command(board: "/b.yaml", runDirectory: "/s/jobs/1/run")
                == ["train", "ring", "--device-seconds", "10", "--seed", "3", "--board", "/b.yaml", "--run-dir", "/s/jobs/1/run", "--json"])
        #expect(try JobRequest(arguments: ["train", "mlp"]).command(board: "/b", runDirectory: "/r") == ["train", "mlp", "--run-dir", "/r", "--json"])
        #expect(try JobRequest(arguments: ["calibrate"]).command(board: "/b", runDirectory: nil) == ["calibrate", "--board", "/b", "--json"])
    }

    @Test(arguments: [
        ([], "empty"), (["rm", "-rf", "/"], "names no command"), (["calibrate", "--board", "x.yaml"], "--board"),
        (["train", "ring", "--run-dir=/etc"], "--run-dir"), (["twin", "serve"], "names no command"),
        (["calibrate", "--seed", "1\n2"], "control character"), (["box"], "names no command"),
        (["train", "resume", "/tmp/x"], "names no command"),
    ])
    func refusals(arguments: [String], says: String) {
        #expect {
            try JobRequest(arguments: arguments)
        } throws: { error in
            "\(error)".contains(says)
        }
    }

    @Test func argumentVectorsAreBounded() {
        #expect(throws: JobRequestError.self) { try JobRequest(arguments: ["calibrate"] + Array(repeating: "--json-not", count: 64)) }
        #expect(throws: JobRequestError.self) { try JobRequest(arguments: ["calibrate", String(repeating: "x", count: 513)]) }
    }
}
