module hexabase.io/hks

go 1.19
