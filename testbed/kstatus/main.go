// Command kstatus prints the kstatus of Kubernetes objects read as JSON from
// stdin (one object, or a List): one line per object, "<name> <status> <message>".
// It uses Flux's kstatus (github.com/fluxcd/cli-utils), the code a Flux
// Kustomization with `wait: true` runs, so tests can check what Flux will see.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

func main() {
	// apimachinery's JSON keeps integers as int64, as unstructured objects need.
	var raw map[string]interface{}
	data, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = utiljson.Unmarshal(data, &raw)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus: reading JSON from stdin:", err)
		os.Exit(2)
	}
	items := []map[string]interface{}{raw}
	if list, ok := raw["items"].([]interface{}); ok {
		items = nil
		for _, item := range list {
			if obj, ok := item.(map[string]interface{}); ok {
				items = append(items, obj)
			}
		}
	}
	for _, item := range items {
		u := &unstructured.Unstructured{Object: item}
		result, err := status.Compute(u)
		if err != nil {
			fmt.Printf("%s Error %s\n", u.GetName(), err)
			continue
		}
		fmt.Printf("%s %s %s\n", u.GetName(), result.Status, result.Message)
	}
}
