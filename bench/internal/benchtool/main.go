// Command benchtool is run.sh's helper for what bash measures too coarsely: process
// start-to-exit times and peak memory, the upstream baseline of an invocation, the 2 MB upload
// event, and the results report. Everything talks to loopback only.
//
//	benchtool event    -out FILE                        write the 2 MB imageBase64 cloud-call event
//	benchtool proc     -n 30 [-expect S] -- CMD ARG...  run CMD n times, print start-to-exit times and peak RSS
//	benchtool upstream -n 30 -base URL -fileid ID       time the WeChat calls of a fileId invocation, made directly
//	benchtool calls    -base URL                        print the emulator's call counters
//	benchtool versus   -ours BIN -peer BIN [-conc 16,64] [-n 2000] [-rounds 4] [-starts 10]
//	                                                    this function against a peer server, side by side
//	benchtool report   -gobench FILE -figures FILE -results FILE -readme FILE
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool event|proc|upstream|calls|versus|report [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "event":
		err = cmdEvent(os.Args[2:])
	case "proc":
		err = cmdProc(os.Args[2:])
	case "upstream":
		err = cmdUpstream(os.Args[2:])
	case "calls":
		err = cmdCalls(os.Args[2:])
	case "versus":
		err = cmdVersus(os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
