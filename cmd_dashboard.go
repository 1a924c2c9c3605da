package main

import "github.com/spf13/cobra"

func (a *app) addDashboard(root *cobra.Command) {
	root.RunE = func(cmd *cobra.Command, args []string) error {
		return cmd.Help()
	}
}
