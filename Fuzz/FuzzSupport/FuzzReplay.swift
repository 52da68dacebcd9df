import Foundation

/// Files of a seed corpus or of a crash folder.
package enum FuzzCorpus {
    /// The regular files named by `paths`, where a directory stands for the files in it (not recursive, dot files
    /// such as `.gitkeep` skipped), in a stable order.
    package static func files(in paths: [String]) -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if !isDirectory.boolValue {
                files.append(path)
                continue
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let file = (path as NSString).appendingPathComponent(name)
                var isSubdirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: file, isDirectory: &isSubdirectory), !isSubdirectory.boolValue
                {
                    files.append(file)
                }
            }
        }
        return files
    }

    /// `Fuzz/Corpus/<target>` and `Fuzz/Regressions/<target>` under `fuzzRoot` (the `Fuzz` folder).
    package static func inputs(of target: String, fuzzRoot: String = committedRoot) -> [String] {
        files(in: ["Corpus", "Regressions"].map { "\(fuzzRoot)/\($0)/\(target)" })
    }

    /// The repository's `Fuzz` folder, found from this file.
    package static let committedRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Every committed input of `target` with the outcome of running it (for the corpus replay tests).
    package static func replay(_ target: FuzzTarget) throws -> [(file: String, outcome: FuzzOutcome)] {
        try inputs(of: target.name).map { file in
            (file, target.run(try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))))
        }
    }
}

/// `main` of a fuzz target built without libFuzzer: replays inputs, so that a crash can be reproduced and
/// debugged with an ordinary build.
///
///     fuzz-X PATH...               runs every file (directories: their files); exit 1 on an unexpected outcome
///     fuzz-X --write-seeds DIR     writes the target's generated seeds into DIR
///
/// Arguments starting with `-` are otherwise ignored, so a libFuzzer command line can be reused as it is.
package enum FuzzReplay {
    package static func main(_ target: FuzzTarget) -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--write-seeds", arguments.count == 2 {
            writeSeeds(target, to: arguments[1])
        }
        let files = FuzzCorpus.files(in: arguments.filter { !$0.hasPrefix("-") })
        guard !files.isEmpty else {
            print("usage: \(target.name) FILE|DIR... | --write-seeds DIR  (no input files given)")
            exit(2)
        }
        var counts = (accepted: 0, rejected: 0, unexpected: 0)
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                print("unreadable  \(file)")
                counts.unexpected += 1
                continue
            }
            switch target.run([UInt8](data)) {
            case .accepted:
                counts.accepted += 1
                print("accepted    \(file)")
            case .rejected:
                counts.rejected += 1
                print("rejected    \(file)")
            case .unexpected(let what):
                counts.unexpected += 1
                print("UNEXPECTED  \(file): \(what)")
            }
        }
        print(
            "\(target.name): \(files.count) inputs, \(counts.accepted) accepted, \(counts.rejected) rejected, "
                + "\(counts.unexpected) unexpected"
        )
        exit(counts.unexpected == 0 ? 0 : 1)
    }

    private static func writeSeeds(_ target: FuzzTarget, to directory: String) -> Never {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for seed in target.seeds() {
                let path = (directory as NSString).appendingPathComponent(seed.name)
                try Data(seed.bytes).write(to: URL(fileURLWithPath: path))
                print("wrote \(path)")
            }
            exit(0)
        } catch {
            print("cannot write seeds: \(error)")
            exit(1)
        }
    }
}
