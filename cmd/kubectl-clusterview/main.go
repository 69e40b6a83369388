// Command kubectl-clusterview is the kubectl plugin `kubectl clusterview`:
// history sparklines and top bars of clusterview's figures.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/cli"

	"github.com/clusterview/clusterview/pkg/plugin"
)

func main() {
	os.Exit(cli.Run(plugin.NewCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})))
}
