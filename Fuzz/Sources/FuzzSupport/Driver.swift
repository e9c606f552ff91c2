import CLibFuzzer
import Foundation

/// Hands the process to libFuzzer with `testOneInput` as the target, passing on the
/// command line (`-max_total_time=…`, corpus directories, crash inputs to replay).
public func runLibFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}
