bucket = "riskops-prod-tfstate"
prefix = "riskops"
