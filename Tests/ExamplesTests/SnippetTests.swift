import Foundation
import TestSupport
import Testing

/// Every ```swift block of README.md, the examples' READMEs and the DocC catalogs compiles as written: it appears
/// verbatim in a `// snippet: NAME` … `// end snippet` region of Examples/Snippets (a target every build compiles),
/// or — a block that starts with `// swift-tools-version` — it is a whole manifest that SwiftPM loads. A block that
/// is in no snippet file fails; so does a snippet region that no document shows any more.
@Suite("documentation snippets compile as written")
struct SnippetTests {
    static let root = BinaryProcess.packageRoot

    /// A fenced ```swift block: where it is and its lines, de-indented by the fence's indentation.
    struct Block: CustomStringConvertible {
        var file: String
        var line: Int
        var text: String

        var description: String { "\(file):\(line)" }
        var isManifest: Bool { text.hasPrefix("// swift-tools-version") }
    }

    /// The documents whose ```swift blocks are checked.
    static func documents() throws -> [URL] {
        var found = [root.appendingPathComponent("README.md")]
        let manager = FileManager.default
        for folder in ["Sources", "Tests", "Examples"] {
            let base = root.appendingPathComponent(folder)
            guard let walker = manager.enumerator(at: base, includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker where url.pathExtension == "md" {
                let path = url.path
                if path.contains(".docc/") || (folder == "Examples" && url.lastPathComponent == "README.md") {
                    found.append(url)
                }
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    static func blocks(in url: URL) throws -> [Block] {
        let lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
        let name = String(url.path.dropFirst(root.path.count + 1))
        var blocks: [Block] = []
        var open: (line: Int, indent: Int, body: [String])?
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if var current = open {
                if trimmed == "```" {
                    blocks.append(Block(file: name, line: current.line, text: current.body.joined(separator: "\n")))
                    open = nil
                } else {
                    current.body.append(String(line.dropFirst(min(current.indent, Self.indentation(of: line)))))
                    open = current
                }
            } else if trimmed == "```swift" {
                open = (index + 1, Self.indentation(of: line), [])
            }
        }
        return blocks
    }

    /// The snippet regions of Examples/Snippets, by name, de-indented.
    static func snippets() throws -> [String: String] {
        let folder = root.appendingPathComponent("Examples/Snippets")
        var regions: [String: String] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".swift") {
            let lines = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                .components(separatedBy: "\n")
            var current: (name: String, body: [String])?
            for line in lines {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("// snippet: ") {
                    current = (String(trimmed.dropFirst("// snippet: ".count)), [])
                } else if trimmed == "// end snippet", let region = current {
                    let indent = region.body.filter { !$0.isEmpty }.map(Self.indentation(of:)).min() ?? 0
                    regions[region.name] = region.body.map { String($0.dropFirst(indent)) }.joined(separator: "\n")
                    current = nil
                } else if current != nil {
                    current!.body.append(line)
                }
            }
        }
        return regions
    }

    static func indentation(of line: String) -> Int { line.prefix { $0 == " " }.count }

    @Test("every ```swift block is a compiled snippet, and every snippet is shown somewhere")
    func blocksAreCompiledSnippets() throws {
        let snippets = try Self.snippets()
        let blocks = try Self.documents().flatMap(Self.blocks(in:)).filter { !$0.isManifest }
        // Not vacuous: README.md and the embedding article hold several blocks each.
        #expect(blocks.filter { $0.file == "README.md" }.count >= 4)
        #expect(blocks.filter { $0.file.hasSuffix("EmbeddingInABackend.md") }.count >= 5)
        var shown: Set<String> = []
        for block in blocks {
            let match = snippets.first { $0.value == block.text }
            #expect(
                match != nil,
                "\(block) is not verbatim in a snippet region of Examples/Snippets, so nothing compiles it:\n\(block.text)"
            )
            if let match { shown.insert(match.key) }
        }
        for name in snippets.keys.sorted() where !shown.contains(name) {
            Issue.record("snippet '\(name)' of Examples/Snippets is shown in no document")
        }
    }

    @Test("every manifest block loads with swift package dump-package")
    func manifestsLoad() async throws {
        let manifests = try Self.documents().flatMap(Self.blocks(in:)).filter(\.isManifest)
        #expect(!manifests.isEmpty)
        for manifest in manifests {
            let directory = try TempDir(prefix: "manifest")
            try Data((manifest.text + "\n").utf8).write(to: URL(fileURLWithPath: directory.file("Package.swift")))
            let process = ChildProcess()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["swift", "package", "--package-path", directory.path, "dump-package"]
            process.standardInput = FileHandle.nullDevice
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(manifest) does not load:\n\(text)")
            #expect(text.contains("\"targets\""), "\(manifest): dump-package printed no package")
        }
    }
}
