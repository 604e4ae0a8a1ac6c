// Package kubernetes holds the Kubernetes examples of the sidecar and the
// Kafka stage, and the test that checks them (manifests_test.go).
//
// It is a module of its own so that the Kubernetes API types the test
// decodes the manifests into are not dependencies of annotator itself.
package kubernetes
