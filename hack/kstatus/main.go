// Command kstatus prints the verdict of sigs.k8s.io/cli-utils/pkg/kstatus (the library Flux
// and `kubectl wait`-style tools use) for Kubernetes objects, so tests can check what those
// tools will say about sd-operator's status.
//
// Input on stdin: one JSON object, or a list (`kubectl get -o json`). Output: one JSON line
// per object, in input order:
//
//	{"kind":"...","namespace":"...","name":"...","status":"Current","message":"..."}
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	raw, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	var obj unstructured.Unstructured
	if err := obj.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("reading an object from stdin: %w", err)
	}
	objects := []unstructured.Unstructured{obj}
	if obj.IsList() {
		list, err := obj.ToList()
		if err != nil {
			return err
		}
		objects = list.Items
	}
	enc := json.NewEncoder(out)
	for i := range objects {
		u := &objects[i]
		res, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		v := verdict{u.GetKind(), u.GetNamespace(), u.GetName(), res.Status.String(), res.Message}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}
