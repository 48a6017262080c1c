bucket = "riskops-dev-tfstate"
prefix = "riskops"
