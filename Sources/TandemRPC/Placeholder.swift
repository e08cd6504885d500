import NIOPosix; import NIOSSL; import Logging; import Metrics; import Tracing; import ServiceLifecycle; import Atomics
