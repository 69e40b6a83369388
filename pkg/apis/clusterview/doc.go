// Package clusterview holds the internal (hub) types of the clusterview.io API
// group. The server converts every served version to these types; validation
// and the registry work on them.
//
// +k8s:deepcopy-gen=package
// +groupName=clusterview.io
package clusterview
