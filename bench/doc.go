// Package bench holds the benchmarks that prove the performance figures of issue 3 §8: the
// handler's overhead over calling WeChat directly, the cost of a 2 MB base64 upload, and (in
// run.sh) the invoke process's start-to-exit time, its peak memory and the binary's size.
// Every figure is measured next to a baseline run side by side on the same machine, never
// asserted as a wall-clock limit in a test. See README.md in this folder.
package bench
