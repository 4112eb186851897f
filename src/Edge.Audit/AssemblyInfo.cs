namespace Edge.Audit;
