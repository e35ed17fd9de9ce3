//go:build !race

package msa_test

const raceEnabled = false
