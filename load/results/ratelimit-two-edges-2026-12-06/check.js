// node check.js route t0 tEnd limit windowSec burst extra  -> compare backend counts
const http=require('http');
const [route,t0,tEnd,L,W,B,extra]=process.argv.slice(2).map((x,i)=>i?+x:x);
http.get('http://127.0.0.1:18810/_dump',res=>{let b='';res.on('data',d=>b+=d);res.on('end',()=>{
  const all=JSON.parse(b); const out=[]; let over=0;
  for(const [k,ts] of Object.entries(all)){ if(!k.startsWith(route+'|'))continue;
    ts.sort((a,b)=>a-b);
    const bound=B+Math.floor(L*(tEnd-t0)/1000/W);
    // max in any sliding interval of W seconds
    let mx=0,j=0; for(let i=0;i<ts.length;i++){while(ts[i]-ts[j]>W*1000)j++; mx=Math.max(mx,i-j+1);}
    const flag=ts.length>bound+extra||mx>B+L+extra;
    if(flag)over++;
    out.push(`${k.split('|')[1]}:${ts.length}/${bound} maxW=${mx}${flag?' OVER':''}`);
  }
  console.log(`backend ${route}: keys=${out.length} over=${over} (bound total=B+L*T/W, maxW bound B+L=${B+L}, extra=${extra})`); console.log(out.join('  '));
});});
