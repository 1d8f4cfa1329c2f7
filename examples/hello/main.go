// Command hello prints the platform it was built for and its version.
package main

import (
	"flag"
	"fmt"
	"runtime"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	fmt.Printf("hello from %s/%s (version %s, %s)\n", runtime.GOOS, runtime.GOARCH, version, runtime.Version())
}
