const http=require('http');
const counts=new Map(); // key route|key -> array of ms
http.createServer((req,res)=>{
  if(req.url==='/_dump'){res.end(JSON.stringify(Object.fromEntries(counts)));return;}
  if(req.url==='/_reset'){counts.clear();res.end('ok');return;}
  const route=req.url.split('/')[1]; const k=route+'|'+(req.headers['x-rate-key']||'');
  let a=counts.get(k); if(!a){a=[];counts.set(k,a);} a.push(Date.now());
  res.writeHead(200,{'content-type':'application/json','content-length':11}); res.end('{"ok":true}');
}).listen(18810,'127.0.0.1');
