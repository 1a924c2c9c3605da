module github.com/relink/relink

go 1.26.0
